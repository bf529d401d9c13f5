"""m15_displacement_angle: the sales angle, written from every other module's data.

With ``[intel] use_llm`` and a configured ``llm`` source, a language model writes the angle,
talking points, risks, difficulty and lift (:mod:`._angle_llm`); otherwise, or when the model
fails or answers nonsense twice, the rule-based writer does (:mod:`._angle_rules`). The other
fields (incumbent, threat, timing signals, quotes, case studies, ICP) always come from the rules,
so both writers give the same shape. Missing inputs lower what the angle can say, never stop it.

``[modules.m15_displacement_angle]`` takes ``max_timing_signals`` and ``max_quotes``.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from .._types import ModuleContext, ModuleError, ModuleResult
from ._angle_llm import write_with_model
from ._angle_rules import (
    Cited,
    Written,
    assemble,
    fixed_citations,
    gather_inputs,
    read_facts,
    write_rules,
)
from ._common import count_points
from ._searchhits import module_options

LLM: Final = "llm"
RULES: Final = "rules"


class AngleOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[modules.m15_displacement_angle]``."""

    #: Most timing signals listed (freshest first).
    max_timing_signals: Annotated[int, msgspec.Meta(ge=0, le=50)] = 10
    #: Most executive quotes in ``in_their_own_words``.
    max_quotes: Annotated[int, msgspec.Meta(ge=0, le=20)] = 3


async def run_displacement_angle(ctx: ModuleContext) -> ModuleResult:
    """m15: the angle, talking points and risks, with the signals and proof behind them."""
    options = module_options(ctx, AngleOptions)
    inputs = gather_inputs(ctx)
    facts = read_facts(
        inputs, ctx.intel, max_signals=options.max_timing_signals, max_quotes=options.max_quotes
    )
    warnings = list(inputs.warnings)
    written: Written | None = None
    writer, generated_by = RULES, RULES
    if ctx.intel.use_llm and ctx.source_configured(LLM):
        try:
            answer = await write_with_model(ctx.source(LLM), inputs, facts)
        except ModuleError as exc:
            warnings.append(
                f"the language model's angle was not used ({exc.code}: {exc.message}); "
                "the rule-based writer wrote it"
            )
        else:
            written, writer, generated_by = answer.written, LLM, f"llm:{answer.model}"
            warnings += answer.warnings
    if written is None:
        written = write_rules(facts, inputs)
    data = assemble(facts, written, generated_by)
    cited = Cited(inputs)
    cited.extend(written.citations)
    cited.extend(fixed_citations(facts, inputs))
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=cited.all(),
        source=writer,
        warnings=warnings,
    )
