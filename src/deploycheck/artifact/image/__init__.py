"""Container images read without a Docker daemon: transports (where the image is), the OCI image layout
(index → manifest → config → layers), and the final file tree of the layers with whiteouts applied."""
