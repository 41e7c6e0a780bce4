/* ts_validate_gpu.h: `tetriserve validate` on this machine's GPUs (builds
 * with CUDA): the DiT engine as the device of ts_validate.h, and the
 * profile command as its --measure. */
#ifndef TS_VALIDATE_GPU_H
#define TS_VALIDATE_GPU_H

/* ts_validate_main over the GPU device (argv[0] == "validate"). */
int ts_cmd_validate_gpu(int argc, char **argv);

#endif
