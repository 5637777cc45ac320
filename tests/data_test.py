"""tfelg.data: a regenerated dataset has byte-identical record files."""

import hashlib
import os
import subprocess
import sys
import textwrap

from absl.testing import absltest

_BUILD = textwrap.dedent(
    """
    import sys
    from tfelg import data
    data.prepare(data.make_builder("emission_lines/synthetic", sys.argv[1], num_galaxies=60, seed=3))
    """
)


def _digests(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if ".tfrecord" in name:
                with open(os.path.join(folder, name), "rb") as f:
                    found[name] = hashlib.sha256(f.read()).hexdigest()
    return found


class DeterministicRecordsTest(absltest.TestCase):
    def test_two_processes_write_the_same_bytes(self):
        # Two processes: the order protobuf writes a map in is fixed within
        # one process and changes between processes (ASLR-seeded hashing).
        roots = [self.create_tempdir().full_path for _ in range(2)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        for root in roots:
            subprocess.run(
                [sys.executable, "-c", _BUILD, root],
                check=True,
                env=env,
                capture_output=True,
                timeout=300,
            )
        first, second = (_digests(r) for r in roots)
        self.assertLen(first, 3)  # train, validation, test
        self.assertEqual(first, second)


if __name__ == "__main__":
    absltest.main()
