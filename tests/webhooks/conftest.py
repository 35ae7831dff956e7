from .receiver import receiver  # noqa: F401  (a loopback webhook receiver for every test here)
