"""Test configuration: JAX in float64, Hypothesis profiles, markers.

Profiles (choose with --hypothesis-profile NAME; the default is `ci` when the CI environment
variable is set, `dev` otherwise):
- ci:   derandomized (the same examples every run: no flaky CI), no deadline, no database;
- dev:  random examples, fewer of them, failures saved in .hypothesis/ and replayed first;
- fuzz: long runs for HypoFuzz, many examples, no deadline; its example database is
  GRADCHECK_FUZZ_DATABASE when set (a directory or redis://host:port/db, shared by machines),
  else Hypothesis' .hypothesis/ (docs/fuzzing.md);
- mutation: as ci with a quarter of the examples, for mutation testing (docs/mutation.md).
"""

import os

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

# The RNN problems are drawn from a seed plus a few sizes and scales, so generation is cheap,
# but one example runs a forward and backward pass, finite differences and JAX: too slow for
# Hypothesis' default 200 ms deadline on a shared 2-core machine, hence deadline=None.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
settings.register_profile("ci", max_examples=400, derandomize=True, database=None, print_blob=True, **_common)
settings.register_profile("dev", max_examples=25, **_common)
_fuzz = {}
if os.environ.get("GRADCHECK_FUZZ_DATABASE"):  # one database for several machines (docs/fuzzing.md)
    from gradcheck.fuzz import example_database

    _fuzz["database"] = example_database(os.environ["GRADCHECK_FUZZ_DATABASE"])
settings.register_profile("fuzz", max_examples=100_000, **_fuzz, **_common)
# Mutation testing (pyproject.toml [tool.mutmut]): deterministic like `ci`, with a quarter of its
# examples, so that a surviving mutant costs seconds, not minutes.
settings.register_profile("mutation", max_examples=100, derandomize=True, database=None, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
