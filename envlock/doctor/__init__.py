"""`doctor`: will this lock run on this node? Driver, GPUs, glibc, the installed binaries, a smoke run."""
