"""How a starting service is judged healthy: probes as the deployment defines them."""
