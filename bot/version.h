/* version: the one place sirtbot's version is written.  `sirtbot --version`,
 * the first log line and /metrics (sirt_build_info) read it; CHANGELOG.md's
 * newest entry carries the same string (tests/test_cli.c checks). */
#ifndef SIRT_VERSION_H
#define SIRT_VERSION_H

#define SIRT_VERSION "0.2.0"

#endif
