"""utils/parse_options.sh: the recipes' option parser."""

import pytest
from recipe_checks import TEMPLATE, bash

PARSE = f"""
stage=1; use_gpu=false; name="a b"; help_message="usage: test"
. {TEMPLATE}/utils/parse_options.sh
echo "stage=$stage use_gpu=$use_gpu name=$name rest=$*"
"""


def test_parse_options_sets_values_and_leaves_positionals():
    out = bash(PARSE, "--stage", "3", "--use-gpu", "true", "--name", "x y", "p1", "p2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stage=3 use_gpu=true name=x y rest=p1 p2"
    out = bash(PARSE, "--stage=7", "--", "--not-an-option")
    assert out.stdout.strip() == "stage=7 use_gpu=false name=a b rest=--not-an-option"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stgae", "3"], "unknown option '--stgae'"),
        (["--use_gpu", "yes"], "takes true or false, got 'yes'"),
        (["--stage"], "option '--stage' needs a value"),
        (["--bad.name", "1"], "invalid option"),
    ],
)
def test_parse_options_rejects_bad_options(args, message):
    out = bash(PARSE, *args)
    assert out.returncode == 1
    assert message in out.stderr
    assert "stage=" not in out.stdout


def test_parse_options_help():
    out = bash(PARSE, "--help")
    assert out.returncode == 0 and "usage: test" in out.stderr
