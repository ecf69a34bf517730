"""The torch fixtures (one thread per test), shared with the other torch test folder."""

from tests._torch_fixtures import _one_torch_thread  # noqa: F401  (an autouse fixture)
