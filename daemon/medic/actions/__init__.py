"""Actions: the remediation step types a policy's `remediate:` list names."""

from medic.actions.base import Action, ActionContext, ActionResult, actions

__all__ = ["Action", "ActionContext", "ActionResult", "actions"]
