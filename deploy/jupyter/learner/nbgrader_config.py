"""nbgrader for a learner's server on the hub: fetch, submit and fetch feedback through the shared exchange."""

import os

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)

c.Exchange.root = os.environ["ADOPTKIT_EXCHANGE_DIR"]
# nbgrader names a student after the OS account (it reads JUPYTERHUB_USER only for `jovyan`); on the
# pilot every server runs under the hub's account, so say who the learner is.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
