"""The version, in one place: the package (``fastfer.__version__``), the wheel's metadata
(pyproject.toml) and the native module (CMakeLists.txt) all read it from here."""

__version__ = "0.1.0"
