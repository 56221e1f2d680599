import pytest

from auditkit._core.registry import Registry
from auditkit.exceptions import AuditkitError, RegistryKeyError


def test_registry_register_get_and_errors():
    reg: Registry[int] = Registry("thing")
    reg.register("alpha")(1)
    reg.register("beta")(2)
    assert reg.get("alpha") == 1 and reg.names() == ["alpha", "beta"] and "beta" in reg
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha")(3)
    reg.register("alpha", override=True)(3)
    assert reg.get("alpha") == 3
    with pytest.raises(RegistryKeyError) as info:
        reg.get("alpah")
    msg = str(info.value)
    assert (
        msg == "'alpah' is not a registered thing (did you mean 'alpha'?). Available: alpha, beta"
    )
    assert isinstance(info.value, KeyError) and isinstance(info.value, AuditkitError)
