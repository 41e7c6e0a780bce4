/* exec_commands_nocuda.c: exec/'s commands in a build without the CUDA
 * executor: they exist, and say how to get a build that runs them. */
#include <stddef.h>

#include "cli/command.h"

#define NO_CUDA \
	"this build has no CUDA executor. It needs the CUDA toolkit (nvcc, cuBLAS) and NCCL " \
	"at build time: install them (e.g. NVIDIA's cuda-toolkit and libnccl-dev packages), " \
	"then rebuild with `meson setup build -Dcuda=enabled --wipe && ninja -C build`."

const struct ts_command ts_commands_exec[] = {
	{ "profile", "measure step latencies on this machine's GPUs", NULL, NO_CUDA },
	{ "exec", "serve a trace on this machine's GPUs under policies", NULL, NO_CUDA },
	{ NULL, NULL, NULL, NULL },
};
