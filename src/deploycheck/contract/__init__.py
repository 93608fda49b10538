"""The configuration contract of a service (``deploycheck config``): what the code reads from its environment,
what a named environment provides, and the rules DC401-DC405 that compare the two (and, with ``--connect``,
try the database and cache URLs live).

Modules: ``reads`` (static pass over the import closure), ``schema`` (classes of config objects),
``provides`` with ``dotenv_file``, ``kube`` and ``compose`` (environment sources), ``urls`` (database URLs as
SQLAlchemy reads them), ``live`` (probes), ``redact`` (values are never printed), ``run`` (the pipeline),
``report`` (text and JSON).
"""
