# Decides whether the CUDA backend is built. AUTO builds it when a CUDA compiler is found; ON
# insists; OFF skips. The default architecture is sm_90 with its PTX (CMake's "90" emits both),
# overridable with -DCMAKE_CUDA_ARCHITECTURES. The runtime is linked as a shared library and libcuda
# never directly: the runtime loads the driver, so the binaries start on machines without one.
# Sets SCENECAM_CUDA_ENABLED, and SCENECAM_CUDA_REASON: why (and, when off, how to turn it on).
set(SCENECAM_CUDA_ENABLED OFF)
set(SCENECAM_CUDA_REASON "SCENECAM_WITH_CUDA=OFF")
if(NOT SCENECAM_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  # check_language looks only at $CUDACXX and PATH, and the toolkit's installer leaves
  # /usr/local/cuda/bin off PATH: look where toolkits are installed, the newest version first.
  if(NOT CMAKE_CUDA_COMPILER)
    file(GLOB _scenecam_cuda_dirs LIST_DIRECTORIES true /usr/local/cuda-*)
    list(SORT _scenecam_cuda_dirs COMPARE NATURAL ORDER DESCENDING)
    set(_scenecam_nvcc_hints)
    foreach(_dir $ENV{CUDA_HOME} $ENV{CUDA_PATH} /usr/local/cuda ${_scenecam_cuda_dirs})
      list(APPEND _scenecam_nvcc_hints ${_dir}/bin)
    endforeach()
    find_program(SCENECAM_NVCC nvcc HINTS ${_scenecam_nvcc_hints} NO_DEFAULT_PATH)
    if(SCENECAM_NVCC)
      # Both: check_language left a NOTFOUND normal variable that would hide the cache entry.
      set(CMAKE_CUDA_COMPILER ${SCENECAM_NVCC} CACHE FILEPATH "CUDA compiler" FORCE)
      set(CMAKE_CUDA_COMPILER ${SCENECAM_NVCC})
      message(STATUS "scenecam: nvcc is not on PATH; using ${SCENECAM_NVCC}")
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    find_package(CUDAToolkit REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${CUDNN_ROOT} ENV CUDNN_ROOT
              PATH_SUFFIXES include)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}
                 ${CUDNN_ROOT} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
      set(SCENECAM_CUDA_ENABLED ON)
      set(SCENECAM_CUDA_REASON "nvcc ${CMAKE_CUDA_COMPILER_VERSION} at ${CMAKE_CUDA_COMPILER}, \
cuDNN ${CUDNN_LIBRARY}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
    else()
      set(SCENECAM_CUDA_REASON "nvcc found (${CMAKE_CUDA_COMPILER}) but cuDNN not: set CUDNN_ROOT \
(environment or -D) to the folder holding include/cudnn.h and lib/libcudnn.so")
    endif()
  else()
    set(SCENECAM_CUDA_REASON "no nvcc on PATH, in $CUDACXX, $CUDA_HOME/bin, $CUDA_PATH/bin or \
/usr/local/cuda*/bin: install the CUDA toolkit or pass -DCMAKE_CUDA_COMPILER=/path/to/nvcc")
  endif()
  if(SCENECAM_WITH_CUDA STREQUAL "ON" AND NOT SCENECAM_CUDA_ENABLED)
    message(FATAL_ERROR "SCENECAM_WITH_CUDA=ON, but ${SCENECAM_CUDA_REASON}")
  endif()
endif()
