# Thin aliases for tasks.py, which does the work and needs nothing but Python 3.11+.
.PHONY: lab test notebooks setup
lab:
	python3 tasks.py lab
test:
	python3 tasks.py test
notebooks:
	python3 tasks.py notebooks
setup:
	python3 tasks.py setup
