"""The recurrent cells by name: their parameters, gates and layouts (cells.py computes with them).

Nothing here imports numpy, so that the command line can offer the cells without loading it.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import GradcheckError


class Cell(StrEnum):
    """The recurrent cells (a StrEnum: it prints and compares as its name)."""

    TANH = "tanh"
    RELU = "relu"
    GRU = "gru"
    GRU_CHO = "gru_cho"
    LSTM = "lstm"


def parse_cell(name: str | Cell) -> Cell:
    """The Cell of a name; an unknown name is an error that lists the known ones."""
    try:
        return Cell(name)
    except ValueError:
        raise GradcheckError(f"cell: {name!r} is not one of {', '.join(c.value for c in Cell)}") from None


_SIMPLE = ("U", "W", "b_h")  # the seed's names
_GATED = ("W_ih", "W_hh", "b_ih", "b_hh")  # PyTorch's names and layouts (gate blocks stacked by rows)
RECURRENT_NAMES: dict[Cell, tuple[str, ...]] = {
    Cell.TANH: _SIMPLE,
    Cell.RELU: _SIMPLE,
    Cell.GRU: _GATED,
    Cell.GRU_CHO: _GATED,
    Cell.LSTM: _GATED,
}
GATES: dict[Cell, int] = {Cell.TANH: 1, Cell.RELU: 1, Cell.GRU: 3, Cell.GRU_CHO: 3, Cell.LSTM: 4}
GATE_ORDER: dict[Cell, str] = {Cell.TANH: "p", Cell.RELU: "p", Cell.GRU: "rzn", Cell.GRU_CHO: "rzn", Cell.LSTM: "ifgo"}


def recurrent_shapes(cell: Cell | str, D: int, H: int) -> dict[str, tuple[int, ...]]:
    """The shape of every recurrent parameter: U (H, D), W (H, H), b_h (H,), or W_ih (G H, D),
    W_hh (G H, H), b_ih (G H,), b_hh (G H,) with G = GATES[cell]."""
    cell = parse_cell(cell)
    if GATES[cell] == 1:
        return {"U": (H, D), "W": (H, H), "b_h": (H,)}
    G = GATES[cell]
    return {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}


def has_cell_state(cell: Cell | str) -> bool:
    """True for the LSTM, the one cell that carries c_t besides h_t."""
    return parse_cell(cell) is Cell.LSTM


__all__ = ["GATES", "GATE_ORDER", "RECURRENT_NAMES", "Cell", "has_cell_state", "parse_cell", "recurrent_shapes"]
