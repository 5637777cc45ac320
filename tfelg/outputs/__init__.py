"""Things a person looks at after a run: diagrams, projector files, catalogues."""
