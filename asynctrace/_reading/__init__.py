"""Reading: the streaming reader, trees and views over trace files."""
