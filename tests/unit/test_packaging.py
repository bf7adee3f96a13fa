"""What an index would serve: the sdist and wheel built from this checkout, and their metadata."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import pulumi_webhooks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    # From a copy of the files git would commit: what a fresh clone builds, and no build
    # directories left in (or raced over in) the checkout.
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # No isolation: the build backend from the dev extras, so the test needs no network.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out),
                    str(source)], check=True, capture_output=True, text=True)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def test_version_comes_from_the_package(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    version = pulumi_webhooks.__version__
    assert wheel.name.startswith(f"pulumi_webhooks-{version}-py3-none-any")
    assert sdist.name == f"pulumi_webhooks-{version}.tar.gz"
    assert not re.search(r"^version\s*=\s*\"", (ROOT / "pyproject.toml").read_text(), re.M)  # one place only


def test_wheel_holds_the_package_and_no_test_code(built: tuple[Path, Path]) -> None:
    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"pulumi_webhooks", f"pulumi_webhooks-{pulumi_webhooks.__version__}.dist-info"}
    for required in ("pulumi_webhooks/py.typed", "pulumi_webhooks/verify.py", "pulumi_webhooks/cli.py",
                     "pulumi_webhooks/sandbox/_server.py", "pulumi_webhooks/sandbox/velafi.py"):
        assert required in names
    assert not [n for n in names if "test" in n.rsplit("/", 1)[-1] or "noop" in n]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_sdist_holds_docs_license_and_changelog(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    prefix = f"pulumi_webhooks-{pulumi_webhooks.__version__}/"
    with tarfile.open(sdist) as archive:
        names = {n.removeprefix(prefix) for n in archive.getnames()}
    for required in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "docs/reference.md",
                     "docs/pipelines.md", "docs/pypi.md", "pulumi_webhooks/py.typed"):
        assert required in names, required
    assert not [n for n in names if n.endswith((".pyc", ".json")) or "/.state" in n]


def test_metadata_describes_the_project_outside_the_repo(built: tuple[Path, Path]) -> None:
    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Author"] or metadata["Author-email"]
    assert metadata["Requires-Python"] == ">=3.11"
    urls = metadata.get_all("Project-URL") or []
    assert {u.split(",", 1)[0] for u in urls} >= {"Homepage", "Documentation", "Changelog", "Issues"}
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers and "Programming Language :: Python :: 3.11" in classifiers
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"sandbox", "verify"} <= extras
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "pip install pulumi-webhooks" in description
    links = re.findall(r"\]\(([^)]+)\)", description)
    assert links and all(link.startswith("https://") for link in links), links
    assert "scripts/" not in description  # the checkout's commands mean nothing on an index


def test_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


def test_changelog_names_the_current_version() -> None:
    assert f"## {pulumi_webhooks.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_the_package_offers_what_a_program_catches_and_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    import pulumi_webhooks
    from pulumi_webhooks import _errors, verify

    assert set(pulumi_webhooks.__all__) - {"__version__"} == set(_errors.__all__)
    for name in _errors.__all__:
        assert getattr(pulumi_webhooks, name) is getattr(_errors, name)
        assert issubclass(getattr(pulumi_webhooks, name), pulumi_webhooks.WebhookError)
    assert verify.SignatureError is pulumi_webhooks.SignatureError
    code = (
        "import sys, pulumi_webhooks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'httpx', 'pulumi') or m.startswith('pulumi_webhooks.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['pulumi_webhooks._errors']", loaded


def test_a_program_catches_every_error_from_the_package_itself() -> None:
    from pulumi_webhooks import InputError, NotFoundError, SignatureError, WebhookError, _errors, verify

    assert issubclass(InputError, WebhookError) and issubclass(NotFoundError, WebhookError)
    assert issubclass(SignatureError, WebhookError) and verify.SignatureError is SignatureError
    offered: dict[str, object] = {}
    exec("from pulumi_webhooks import *", offered)
    for name in _errors.__all__:
        assert offered[name] is getattr(_errors, name)
    assert issubclass(_errors.AdoptionError, _errors.InputError)
    assert all(issubclass(getattr(_errors, name), _errors.ApiError)
               for name in ("AuthenticationError", "NotFoundError", "LimitError", "TransientError"))
