"""Test tiers: a fixture that starts Ray says so, and every test that uses it is marked."""


def starts_ray(fixture_function):
    """Put under ``@pytest.fixture``: tests using the fixture get the ``ray_cluster`` marker
    (tests/conftest.py), so that ``make test-fast`` leaves them out."""
    fixture_function.starts_ray = True
    return fixture_function
