"""Independent JAX autodiff reference for the seed's RNN loss (imports nothing from gradcheck)."""

from .jax_rnn import jax_gradients, jax_jvp

__all__ = ["jax_gradients", "jax_jvp"]
