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
# Every learner's server writes to the exchange under one OS account (the hub's on the pilot, jovyan
# in the cluster image), so nbgrader's "owned by someone else: cheating attempt?" check would fire on
# every submission. The hub, not file ownership, says who submitted (book/deploy.md: what this trusts).
c.CollectApp.check_owner = False
