"""The one table IR op -> lowering rule, filled here and only here.

Each rule module exports ``RULES`` (op -> function ``rule(lowerer, node)``); rules never
import this module.  A new op's lowering rule goes into one of the modules and its
``RULES`` (docs/architecture.md, "adding an op").
"""

from __future__ import annotations

from . import (rules_elem, rules_logic, rules_move, rules_nn, rules_rnn, rules_threshold,
               rules_transformer)

RULES: dict = {}
for _m in (rules_elem, rules_logic, rules_move, rules_nn, rules_transformer, rules_threshold,
           rules_rnn):
    for _op, _fn in _m.RULES.items():
        assert _op not in RULES, f"two lowering rules for {_op}"
        RULES[_op] = _fn
