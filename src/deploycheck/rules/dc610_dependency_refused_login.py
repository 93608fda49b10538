"""DC610 dependency-refused-login: a dependency started with ``--with`` refused the service's login.

Why it fails the deploy: the throwaway PostgreSQL (or Redis) is made with exactly the role, password and
database the environment's URL gives (``DATABASE_URL``, ``REDIS_URL``), at the host and port it names; a
refused login means the service connects with other credentials than the ones the deployment sets (another
variable, a default in the code, a password read from a file that is not there), and it will be refused in
production as well. Found by ``deploycheck start --with postgres|redis``: the refusals are read from the
dependency's own log (PostgreSQL's ``FATAL: password authentication failed for user "app"``, ``role ...
does not exist``, ``database ... does not exist``). The password is never printed.

Example::

    DATABASE_URL=postgresql://app:right@db/app      # the environment
    psycopg.connect(user="app", password=os.environ.get("DB_PASSWORD", "dev"), host="db")   # the code
"""

from __future__ import annotations

from collections.abc import Iterator

from deploycheck.findings.finding import Finding
from deploycheck.start.findings import finding, last_traceback
from deploycheck.start.observation import Observation, Traceback

CODE = "DC610"
NAME = "dependency-refused-login"
COMMAND = "start"


def check(obs: Observation) -> Iterator[Finding]:
    tb = last_traceback(obs)
    if tb is not None:  # the service's own statement that connects, not the driver's frame that raised
        own = [f for f in tb.frames if not any(d in f[0] for d in ("/site-packages/", "/dist-packages/"))]
        tb = Traceback(tb.exception, own or tb.frames, tb.count)
    for dep in obs.dependencies:
        if not dep.get("refused"):
            continue
        yield finding(CODE, f"{dep['dependency']} refused the service's login: {'; '.join(dep['refused'])} "
                      f"(it was started with the credentials {dep['setting']} gives: the service connects "
                      "with others)", obs, symbol=dep["setting"], traceback=tb)
