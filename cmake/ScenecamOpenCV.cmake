# Finds OpenCV's core, imgproc and imgcodecs by hand: Debian's slim -dev packages ship the
# headers and libraries but no CMake config. Defines the scenecam::opencv interface target.
set(SCENECAM_OPENCV_ENABLED OFF)
if(NOT SCENECAM_WITH_OPENCV STREQUAL "OFF")
  find_path(OPENCV_INCLUDE_DIR opencv2/core.hpp PATH_SUFFIXES opencv4)
  find_library(OPENCV_CORE_LIBRARY opencv_core)
  find_library(OPENCV_IMGPROC_LIBRARY opencv_imgproc)
  find_library(OPENCV_IMGCODECS_LIBRARY opencv_imgcodecs)
  if(OPENCV_INCLUDE_DIR AND OPENCV_CORE_LIBRARY AND OPENCV_IMGPROC_LIBRARY AND OPENCV_IMGCODECS_LIBRARY)
    set(SCENECAM_OPENCV_ENABLED ON)
    add_library(scenecam_opencv INTERFACE)
    add_library(scenecam::opencv ALIAS scenecam_opencv)
    target_include_directories(scenecam_opencv SYSTEM INTERFACE ${OPENCV_INCLUDE_DIR})
    target_link_libraries(scenecam_opencv INTERFACE ${OPENCV_IMGCODECS_LIBRARY}
                          ${OPENCV_IMGPROC_LIBRARY} ${OPENCV_CORE_LIBRARY})
  elseif(SCENECAM_WITH_OPENCV STREQUAL "ON")
    message(FATAL_ERROR "SCENECAM_WITH_OPENCV=ON but OpenCV core/imgproc/imgcodecs were not found")
  endif()
endif()
