"""Reports: self-contained HTML evidence for a run."""

from sitewatch.report.html import render_report, report_context

__all__ = ["render_report", "report_context"]
