/* OpenMP when the compiler has it, a serial stand-in when it does not. */
#ifndef FASTOPT_OPENMP_H
#define FASTOPT_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define FASTOPT_HAVE_OPENMP 1
#else
#define FASTOPT_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
#endif
#endif
