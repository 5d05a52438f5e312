"""``python -m skinlight.synthetic``: the same as ``skinlight-synthetic``."""

from skinlight.synthetic.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports this module
    main()
