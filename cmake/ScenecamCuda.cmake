# Decides whether the CUDA backend is built. AUTO builds it when a CUDA compiler is found; ON
# insists; OFF skips. The default architecture is sm_90 with its PTX (CMake's "90" emits both),
# overridable with -DCMAKE_CUDA_ARCHITECTURES. The runtime is linked as a shared library and libcuda
# never directly: the runtime loads the driver, so the binaries start on machines without one.
set(SCENECAM_CUDA_ENABLED OFF)
if(NOT SCENECAM_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    find_package(CUDAToolkit REQUIRED)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT
              PATH_SUFFIXES include)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}
                 ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY)
      set(SCENECAM_CUDA_ENABLED ON)
    elseif(SCENECAM_WITH_CUDA STREQUAL "ON")
      message(FATAL_ERROR "SCENECAM_WITH_CUDA=ON but cuDNN was not found (set CUDNN_ROOT)")
    else()
      message(STATUS "scenecam: nvcc found but cuDNN not; building without the CUDA backend")
    endif()
  elseif(SCENECAM_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SCENECAM_WITH_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
