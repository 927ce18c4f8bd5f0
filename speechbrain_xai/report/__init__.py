"""The HTML listening report of an output folder (:func:`write_report`).

``python -m speechbrain_xai.report FOLDER [--title TITLE]`` writes
``FOLDER/report.html`` from the command line.
"""

from speechbrain_xai.report.html import write_report
from speechbrain_xai.report.scan import scan_folder

__all__ = ["write_report", "scan_folder"]
