/* base/version.h - the release version, for --version, logs and the API client's User-Agent.
 * Threads: any (a constant). */
#ifndef TT_BASE_VERSION_H
#define TT_BASE_VERSION_H

#ifndef TT_VERSION_STRING
#define TT_VERSION_STRING "0.1.0-dev"
#endif

#endif
