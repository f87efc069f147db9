"""The lock: its model and key tables (`model`), the file's writer (`write`), readers (`read`,
`fastread`), digests (`digest`), the checks on its values (`validate`) and its exports (`export`)."""
