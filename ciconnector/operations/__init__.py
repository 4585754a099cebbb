"""The HTTP operation contract shared by actions and triggers: the parameter model
(:mod:`.params`), the operation declaration (:mod:`.operation`), the one validator
(:mod:`.validation`), shared parameters (:mod:`.common`) and the one exception → HTTP answer table
(:mod:`.answers`).

No ``azure.functions`` import; the Functions adapters turn an :class:`~.answers.Answer` into a response.
"""
from .operation import Operation
from .params import Param, Picker
from .validation import RawRequest, validate

__all__ = ["Operation", "Param", "Picker", "RawRequest", "validate"]
