"""The build file's COPY/ADD lines as a map from the repository to the image: real Containerfiles and build
contexts written to disk, parsed with dockerfile-parse, mapped both ways."""

from __future__ import annotations

import io
import tarfile

import pytest

from conftest import write_tree
from deploycheck.errors import UsageError
from deploycheck.target import containerfile, copymap


def _context(tmp_path, files: dict[str, str], build: str, name: str = "Containerfile"):
    write_tree(tmp_path, files)
    (tmp_path / name).write_text(build)
    return containerfile.parse(str(tmp_path / name), str(tmp_path))


def _copies(mapping):
    return [(c.context, c.image, c.is_dir, c.where) for c in mapping.copies]


def test_workdir_relative_destinations_variables_flags_and_json_form(tmp_path):
    m = _context(tmp_path, {"app/__init__.py": "", "main.py": "", "conf/prod.py": "", "run.py": ""}, """\
# syntax=docker/dockerfile:1
FROM python:3.11-slim
ARG ROOT=/srv
ENV APP=${ROOT}/app
WORKDIR $APP
COPY --chown=1000:1000 --chmod=644 --link app/ app/
COPY ["main.py", "."]
COPY conf/prod.py \\
     ${CONF_DIR:-config}/settings.py
WORKDIR bin
COPY run.py ${APP}
""")
    assert _copies(m) == [
        ("app", "/srv/app/app", True, "Containerfile:6"),
        ("main.py", "/srv/app/main.py", False, "Containerfile:7"),
        ("conf/prod.py", "/srv/app/config/settings.py", False, "Containerfile:8"),  # a file dest: renamed
        ("run.py", "/srv/app/run.py", False, "Containerfile:11"),  # /srv/app is a directory (WORKDIR)
    ]
    assert m.notes == []
    assert m.image_path("app/__init__.py") == "/srv/app/app/__init__.py"
    assert m.image_path("conf/prod.py") == "/srv/app/config/settings.py"
    assert m.image_path("README.md") is None
    assert m.source_path("/srv/app/config/settings.py") == "conf/prod.py"
    assert m.source_path("/srv/app/app/models/user.py") == "app/models/user.py"  # under a copied directory
    assert m.source_path("/srv/app/bin/tool.py") is None


def test_multi_stage_follows_copies_from_stages_that_took_them_from_the_context(tmp_path):
    m = _context(tmp_path, {"src/svc/__init__.py": "", "src/svc/api.py": "", "tools/gen.py": "", "wsgi.py": ""}, """\
FROM python:3.11 AS build
WORKDIR /build
COPY src/ ./src/
COPY tools/gen.py /opt/gen.py
RUN python /opt/gen.py

FROM build AS test
COPY wsgi.py /build/

FROM python:3.11-slim
COPY --from=build /build/src /srv/app
COPY --from=test /build/wsgi.py /srv/app/
COPY --from=0 /opt /opt/tools
COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/
COPY --from=build /usr/local/lib /usr/local/lib
""")
    assert _copies(m) == [
        ("src", "/srv/app", True, "Containerfile:11"),
        ("wsgi.py", "/srv/app/wsgi.py", False, "Containerfile:12"),  # `test` inherits `build`'s files
        ("tools/gen.py", "/opt/tools/gen.py", False, "Containerfile:13"),  # a directory holding a copy
    ]
    assert m.notes == [
        "Containerfile:14: copies from the image ghcr.io/astral-sh/uv:latest, not from the build context",
        "Containerfile:15: the stage build did not get /usr/local/lib from the build context",
    ]
    assert m.image_path("src/svc/api.py") == "/srv/app/svc/api.py"
    assert m.source_path("/srv/app/svc/api.py") == "src/svc/api.py"
    # the first stage's own COPY lines do not ship
    assert m.image_path("tools/gen.py") == "/opt/tools/gen.py" and m.source_path("/build/src/svc/api.py") is None


def test_wildcards_match_like_filepath_match_and_later_lines_win(tmp_path):
    m = _context(tmp_path, {"a.py": "A", "b.py": "B", "pkg/c.py": "", "plugins/x/__init__.py": "",
                            "plugins/y/__init__.py": "", "override/a.py": "A2"}, """\
FROM scratch
COPY *.py /srv/
COPY plugins/* /srv/plugins/
COPY override/a.py /srv/a.py
""")
    assert _copies(m) == [
        ("a.py", "/srv/a.py", False, "Containerfile:2"),
        ("b.py", "/srv/b.py", False, "Containerfile:2"),  # `*` does not reach pkg/c.py
        ("plugins/x", "/srv/plugins", True, "Containerfile:3"),  # a matched directory copies its contents
        ("plugins/y", "/srv/plugins", True, "Containerfile:3"),
        ("override/a.py", "/srv/a.py", False, "Containerfile:4"),
    ]
    assert m.source_path("/srv/a.py") == "override/a.py"
    assert m.image_path("a.py") is None  # overwritten by a later line
    assert m.image_path("pkg/c.py") is None
    assert m.source_path("/srv/plugins/__init__.py") == "plugins/y/__init__.py"


def test_dockerignore_patterns_are_rooted_with_exceptions(tmp_path):
    m = _context(tmp_path, {"app/__init__.py": "", "app/settings_local.py": "", "app/docs/x.md": "", "top.md": "",
                            "secrets/key.py": "", "secrets/public.py": "", "app/secrets/key.py": "",
                            ".dockerignore": "# not a pattern\n*.md\n/**/*_local.py\nsecrets/\n!secrets/public.py\n"},
                 "FROM scratch\nCOPY . /srv/app/\n")
    assert _copies(m) == [("", "/srv/app", True, "Containerfile:2")]
    assert m.excluded_by("top.md") == "*.md"
    assert m.excluded_by("app/docs/x.md") is None  # `*.md` is rooted at the context, unlike .gitignore
    assert m.excluded_by("app/settings_local.py") == "/**/*_local.py"
    assert m.excluded_by("secrets/key.py") == "secrets/"
    assert m.excluded_by("secrets/public.py") is None and m.excluded_by("app/secrets/key.py") is None
    assert m.image_path("secrets/public.py") == "/srv/app/secrets/public.py"
    assert m.image_path("secrets/key.py") is None
    assert m.source_path("/srv/app/app/settings_local.py") is None
    assert m.why_missing("app/settings_local.py", []) == ".dockerignore pattern '/**/*_local.py' excludes it"


def test_containerignore_is_read_before_dockerignore(tmp_path):
    m = _context(tmp_path, {"a.py": "", "b.py": "", ".dockerignore": "a.py\n", ".containerignore": "b.py\n"},
                 "FROM scratch\nCOPY . /app\n")
    assert (m.ignore.name, m.excluded_by("a.py"), m.excluded_by("b.py")) == (".containerignore", None, "b.py")


def test_add_of_urls_and_local_archives_is_not_mapped(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("x.py")
        tar.addfile(info, io.BytesIO(b""))
    (tmp_path / "vendor.tar.gz").write_bytes(buf.getvalue())
    m = _context(tmp_path, {"app.py": ""}, """\
FROM scratch
ADD vendor.tar.gz /opt/
ADD https://example.org/tool.py /opt/tool.py
ADD app.py /srv/
COPY <<EOF /etc/motd
EOF
COPY missing.py /srv/
""")
    assert _copies(m) == [("app.py", "/srv/app.py", False, "Containerfile:4")]
    assert m.notes == [
        "Containerfile:2: ADD vendor.tar.gz extracts a local archive; its members are not mapped",
        "Containerfile:3: ADD https://example.org/tool.py downloads a file, not from the build context",
        "Containerfile:5: a here-document, not a file of the build context",
        "Containerfile:7: missing.py is not in the build context",
    ]


def test_a_module_no_line_copies_is_found_beside_its_neighbours(tmp_path):
    m = _context(tmp_path, {"app/__init__.py": "", "main.py": "", "lib/util.py": ""},
                 "FROM scratch\nWORKDIR /srv/app\nCOPY app/ /srv/app/app/\nCOPY main.py /srv/app/\n",
                 name="Dockerfile")
    [(rel, copies)] = m.candidates("/srv/app/lib/util.py")
    assert rel == "lib/util.py" and [c.where for c in copies] == ["Dockerfile:3", "Dockerfile:4"]
    assert m.why_missing(rel, copies) == "no COPY/ADD line of Dockerfile copies it (COPY lines: Dockerfile:3, Dockerfile:4)"
    [(rel, copies)] = m.candidates("/srv/app/app/gone.py")
    assert rel == "app/gone.py"
    assert m.why_missing(rel, copies) == ("Dockerfile:3 copies it, yet the image lacks it (built from another "
                                          "context, or a later step removed it)")


def test_app_dir_maps_the_repository_root(tmp_path):
    (tmp_path / ".dockerignore").write_text("**/*_local.py\n")
    m = copymap.from_app_dir(str(tmp_path), "srv/app/")
    assert _copies(m) == [("", "/srv/app", True, "--app-dir")]
    assert m.image_path("app/x.py") == "/srv/app/app/x.py" and m.image_path("app/x_local.py") is None
    assert m.why_missing("app/y.py", []) == "no .dockerignore pattern excludes it, so no COPY/ADD line brings it in"


def test_finding_the_build_file(tmp_path):
    assert containerfile.find(str(tmp_path)) is None
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert containerfile.find(str(tmp_path)) == str(tmp_path / "Dockerfile")
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    assert containerfile.find(str(tmp_path)) == str(tmp_path / "Containerfile")
    with pytest.raises(UsageError, match="--containerfile .*nope: not a file"):
        containerfile.find(str(tmp_path), str(tmp_path / "nope"))


def test_unreadable_build_file_is_a_usage_error(tmp_path):
    (tmp_path / "Containerfile").write_bytes(b"FROM scratch\nCOPY \xff\xfe /x\n")
    with pytest.raises(UsageError, match="Containerfile: cannot parse the build file"):
        containerfile.parse(str(tmp_path / "Containerfile"), str(tmp_path))
