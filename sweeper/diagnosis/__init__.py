"""Why a trial does not learn: detectors on the curves and on a probe batch (see
``monitor``). The codes, their severity and fixes are ``sweeper.findings``."""

from sweeper.diagnosis.monitor import DiagnosisMonitor, DiagnosisSettings
from sweeper.diagnosis.probe import PROBE_EXAMPLES
from sweeper.diagnosis.thresholds import Thresholds

__all__ = ["PROBE_EXAMPLES", "DiagnosisMonitor", "DiagnosisSettings", "Thresholds"]
