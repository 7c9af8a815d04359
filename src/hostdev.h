/* hostdev.h — one qualifier so per-element math compiles as host C and as CUDA
 * device code. Use FW_HD on static inline functions in shared headers. */
#ifndef FW_HOSTDEV_H
#define FW_HOSTDEV_H

#ifdef __CUDACC__
#define FW_HD __host__ __device__ __forceinline__
#else
#define FW_HD static inline
#endif

#endif
