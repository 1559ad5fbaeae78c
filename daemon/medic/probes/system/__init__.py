"""Host resources: CPU, memory, load, disks, mounts, processes, files, file integrity."""
