"""The leaders' no-code assignment is graded with the customer-support one, in tests/test_nocode_support.py's single
grading run. This module only lends its knowledgeable learner's prompts (GOOD, VAGUE) to the course-solutions check,
which imports `test_nocode_<role>` for each no-code assignment."""

from test_nocode_support import GOOD, VAGUE  # noqa: F401
