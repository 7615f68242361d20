"""Independent JAX autodiff reference for the seed's RNN loss (imports nothing from gradcheck)."""

from .jax_rnn import jax_gradients

__all__ = ["jax_gradients"]
