"""Server processes freeze what startup built, out of the garbage collector's reach."""

import gc
import importlib

import config.wsgi


def test_the_wsgi_application_freezes_what_startup_built():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        importlib.reload(config.wsgi)
        assert gc.get_freeze_count() > 0
        assert callable(config.wsgi.application)
    finally:
        gc.unfreeze()
