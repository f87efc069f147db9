// libgpukernels: one CUDA kernel (a block-wide sum) behind a C ABI, for the gpudemo wheel (ctypes).
#include <cuda_runtime.h>
#include <string.h>

__global__ void sum_kernel(const long long* data, int n, unsigned long long* out) {
  __shared__ long long partial[256];
  long long acc = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) acc += data[i];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(out, (unsigned long long)partial[0]);
}

extern "C" {
// 0 on success, else the cudaError_t; *out receives the sum of data[0..n).
int gpu_sum(const long long* data, int n, long long* out) {
  long long* d_data = 0;
  unsigned long long* d_out = 0;
  cudaError_t e;
  if ((e = cudaMalloc(&d_data, sizeof(long long) * (size_t)n)) != cudaSuccess) return (int)e;
  if ((e = cudaMalloc(&d_out, sizeof(unsigned long long))) != cudaSuccess) return (int)e;
  cudaMemcpy(d_data, data, sizeof(long long) * (size_t)n, cudaMemcpyHostToDevice);
  cudaMemset(d_out, 0, sizeof(unsigned long long));
  sum_kernel<<<64, 256>>>(d_data, n, d_out);
  if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
  unsigned long long result = 0;
  if ((e = cudaMemcpy(&result, d_out, sizeof(result), cudaMemcpyDeviceToHost)) != cudaSuccess) return (int)e;
  cudaFree(d_data);
  cudaFree(d_out);
  *out = (long long)result;
  return 0;
}

const char* gpu_error(int code) { return cudaGetErrorString((cudaError_t)code); }

// The name and compute capability of device 0 into buf; 0 on success.
int gpu_name(char* buf, int len, int* major, int* minor) {
  cudaDeviceProp p;
  cudaError_t e = cudaGetDeviceProperties(&p, 0);
  if (e != cudaSuccess) return (int)e;
  strncpy(buf, p.name, (size_t)len - 1);
  buf[len - 1] = 0;
  *major = p.major;
  *minor = p.minor;
  return 0;
}
}
