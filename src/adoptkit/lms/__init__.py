"""The course in the organisation's learning platform: SCORM packages, LTI 1.3 launches and grade passback."""
