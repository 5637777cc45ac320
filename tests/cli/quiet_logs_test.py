"""The binaries' log quieting: expected TFDS warnings dropped, others kept."""

import logging as std_logging

from absl import flags, logging
from absl.testing import absltest

from tfelg import cli


class _Capture(std_logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class QuietLogsTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.absl_logger = logging.get_absl_logger()
        self.capture = _Capture()
        self.absl_logger.addHandler(self.capture)
        self.old_verbosity = logging.get_verbosity()
        self.addCleanup(self._restore)

    def _restore(self):
        self.absl_logger.removeHandler(self.capture)
        self.absl_logger.removeFilter(cli._EXPECTED_WARNING_FILTER)
        logging.set_verbosity(self.old_verbosity)

    def test_custom_config_warning_dropped_other_warnings_kept(self):
        cli.quiet_info_logs()
        logging.warning("Using custom data configuration: EmissionLinesConfig(name='x')")
        logging.warning("a real problem")
        logging.info("chatter")
        self.assertEqual(self.capture.messages, ["a real problem"])

    def test_filter_added_once(self):
        cli.quiet_info_logs()
        cli.quiet_info_logs()
        self.assertEqual(self.absl_logger.filters.count(cli._EXPECTED_WARNING_FILTER), 1)

    def test_verbosity_flag_shows_everything(self):
        flags.FLAGS["verbosity"].present = 1
        self.addCleanup(setattr, flags.FLAGS["verbosity"], "present", 0)
        cli.quiet_info_logs()
        logging.warning("Using custom data configuration: EmissionLinesConfig(name='x')")
        self.assertEqual(len(self.capture.messages), 1)


if __name__ == "__main__":
    absltest.main()
