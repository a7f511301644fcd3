"""The BentoML entry point `bentoml build` packages (see bentofile.yaml); the service lives in the package."""

from matchday.inference.bento_service import MatchdayService

__all__ = ["MatchdayService"]
