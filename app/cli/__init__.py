"""The `flowbridge` command. Every error is a sentence on stderr and an exit code, never a traceback.

Exit codes: 0 success; 1 a run failed or has failed records, or a file is invalid; 2 bad usage
(an unknown option, flow, run or environment). The commands live by subject (run_commands,
admin_commands), their grammar in parser.py.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

from app.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError
from app.cli.parser import build_parser
from app.errors import FlowbridgeError, InvalidFlow

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]

LOG_FILE = Path(tempfile.gettempdir()) / "flowbridge.log"


def main(argv: list[str] | None = None) -> int:
    # Details (retries, tracebacks of internal errors) go to a log file, never to the terminal.
    logging.basicConfig(
        level=logging.WARNING, filename=str(LOG_FILE), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"flowbridge: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidFlow as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    except FlowbridgeError as error:
        print(f"flowbridge: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `flowbridge runs | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("flowbridge: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: say so in one line, keep the traceback in a file
        logging.getLogger("flowbridge.cli").error("internal error\n%s", traceback.format_exc())
        print(f"flowbridge: internal error: {type(error).__name__}: {error} (details in {LOG_FILE})", file=sys.stderr)
        return EXIT_FAILED
