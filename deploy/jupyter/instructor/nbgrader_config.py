"""nbgrader for an instructor's server on the hub: the course's own config plus the shared exchange."""

import os

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)

course_config = os.environ["ADOPTKIT_COURSE_CONFIG"]
if not os.path.isfile(course_config):
    # load_subconfig skips a missing file silently, and nbgrader would then grade the wrong folders.
    raise FileNotFoundError(f"the course's nbgrader config {course_config} (ADOPTKIT_COURSE_CONFIG, from "
                            "`hub.nbgrader_config` in _config.yml) does not exist; fix the path and restart the server")
load_subconfig(course_config)  # noqa: F821 (the course layout and gradebook)
c.Exchange.root = os.environ["ADOPTKIT_EXCHANGE_DIR"]
# nbgrader's collect warns when a submission's files are not owned by the account of the learner it
# names ("cheating attempt?"). That check means something only where each learner has an account of
# their own: on the pilot run as root (the hub says so in ADOPTKIT_LEARNER_ACCOUNTS=own). Where every
# server runs under one account (a pilot not run as root; jovyan in the cluster's image), it would fire
# on every submission, so it is off and the hub's login is what says who submitted (book/deploy.md).
c.CollectApp.check_owner = os.environ.get("ADOPTKIT_LEARNER_ACCOUNTS") == "own"
