"""Package discovery: every ``auditkit.*`` package, and ``templates/`` as ``auditkit.templates``.

Everything else about the build is in pyproject.toml; pyproject alone cannot map one package to a
folder outside the tree that ``packages.find`` walks.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["auditkit", "auditkit.*"]), "auditkit.templates"],
    package_dir={"auditkit.templates": "templates"},
)
