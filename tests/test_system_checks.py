"""`runserver`, `migrate` and `makemigrations` refuse to start on a failed system check."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_project_passes_djangos_system_checks():
    out = StringIO()
    call_command("check", stdout=out)  # raises SystemCheckError on any error
    assert out.getvalue().strip() == "System check identified no issues (0 silenced)."


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if one is missing
