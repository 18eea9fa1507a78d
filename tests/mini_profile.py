"""A checked cpu profile with some parameters changed, for tests of what the package makes of a profile."""

import yaml

from alwa.runs.profile import Profile, params_path, validate


def mini(**kw) -> Profile:
    """The cpu profile's parameters with ``kw`` changed, validated as any profile."""
    return validate({**yaml.safe_load(params_path("cpu").read_text()), **kw})
