/* exec_commands_nocuda.c: exec/'s commands in a build without the CUDA
 * executor: they exist, and say how to get a build that runs them;
 * validate compares stored runs and runs --dry-run without it. */
#include <stddef.h>

#include "cli/command.h"
#include "ts_validate.h"

#define NO_CUDA \
	"this build has no CUDA executor. It needs the CUDA toolkit (nvcc, cuBLAS) and NCCL " \
	"at build time: install them (e.g. NVIDIA's cuda-toolkit and libnccl-dev packages), " \
	"then rebuild with `meson setup build -Dcuda=enabled --wipe && ninja -C build`."

static int validate_without_gpus(int argc, char **argv)
{
	return ts_validate_main(argc, argv, NULL);
}

const struct ts_command ts_commands_exec[] = {
	{ "profile", "measure step latencies on this machine's GPUs", NULL, NO_CUDA },
	{ "exec", "serve a trace on this machine's GPUs under policies", NULL, NO_CUDA },
	{ "validate", "simulator against hardware on one trace, in one command (or two stored runs)",
	  validate_without_gpus, NULL },
	{ NULL, NULL, NULL, NULL },
};
